"""CRM adapters behind one port (port.py): what the core reads from and writes to a CRM."""
