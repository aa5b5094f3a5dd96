"""spoolwatch.agent"""
