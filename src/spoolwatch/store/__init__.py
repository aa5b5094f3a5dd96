"""spoolwatch.store"""
