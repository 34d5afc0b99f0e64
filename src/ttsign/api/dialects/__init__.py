"""Client dialects: one module per family of client routes, each mapping service results to its wire shape."""
