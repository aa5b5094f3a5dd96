"""spoolwatch.report"""
