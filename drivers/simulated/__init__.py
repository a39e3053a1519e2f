"""A simulated haptic device: a stylus held by a scripted operator through a hand–arm model."""
