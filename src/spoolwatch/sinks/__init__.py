"""spoolwatch.sinks"""
