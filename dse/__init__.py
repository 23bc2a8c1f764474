"""Design-space exploration: devices, design points, resource and latency models, search."""
