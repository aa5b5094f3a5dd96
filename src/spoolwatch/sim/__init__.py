"""spoolwatch.sim"""
