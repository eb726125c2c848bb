# Makes kernel/ the package bptraf.kernel in a wheel, so the C sources ship with it.
