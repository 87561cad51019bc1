"""What a network costs: FLOPs, parameters and activations, counted and cached."""
