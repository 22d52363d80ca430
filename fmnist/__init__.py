"""fmnist: feedforward networks written from scratch in NumPy for Fashion-MNIST and MNIST."""
