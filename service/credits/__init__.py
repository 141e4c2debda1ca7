"""The sink-credit API: public disclosure and open data, operators' imports and retirements."""
