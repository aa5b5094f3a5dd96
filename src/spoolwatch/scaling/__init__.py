"""spoolwatch.scaling"""
