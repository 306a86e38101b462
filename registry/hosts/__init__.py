"""Which host names and addresses count as this machine (the DNS-rebinding guards of both servers use them)."""
