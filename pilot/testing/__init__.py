"""Public test kit: fakes and servers that let tests drive meshpilot without a cluster or a network."""
