"""Weights shipped with gankit (the MNIST evaluator); located with importlib.resources."""
