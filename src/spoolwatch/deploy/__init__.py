"""spoolwatch.deploy"""
