"""Unit tests of the CRM adapters."""
