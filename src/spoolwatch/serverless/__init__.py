"""spoolwatch.serverless"""
