"""Surgical scenes, each registered under the `haptics.scenes` entry point."""
