"""qaoa"""
