"""cutting"""
