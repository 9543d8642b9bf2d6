"""Algorithms that know nothing about the YRD: assignment, network design, selection."""
