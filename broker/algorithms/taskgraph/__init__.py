"""taskgraph"""
