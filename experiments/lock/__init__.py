"""C9: robust UD and permanent lock-in, judged draw by draw on the robust pair."""
