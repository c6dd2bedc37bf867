"""Developer tools: not deployed with the app."""
