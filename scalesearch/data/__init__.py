"""Images and labels for the proxy: synthetic, image folders, CIFAR."""
