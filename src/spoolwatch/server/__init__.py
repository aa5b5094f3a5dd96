"""spoolwatch.server"""
