"""Public test kit: ADS test client, Envoy process helpers, small xDS resource builders."""
