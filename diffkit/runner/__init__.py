"""Assembling components from a config, training and sampling."""
