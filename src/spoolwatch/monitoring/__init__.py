"""spoolwatch.monitoring"""
