"""Offline synthesis of reliable (cycle-triplet) supervision for face swapping."""
