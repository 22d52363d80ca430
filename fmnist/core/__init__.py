"""The numerical core: network, activations, losses, initialisers, optimisers, augmentation, weight averaging."""
