"""The network's parts: activations, losses, initialisers and the multilayer perceptron."""
