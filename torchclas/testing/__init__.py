"""Tools for testing torchclas and runs built on it: tiny data sets, corrupt images, fault injection."""
