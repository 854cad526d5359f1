"""Voice: speech to text for the message box, and replies read aloud as they stream."""
