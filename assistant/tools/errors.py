"""The error a tool raises to tell the model, in one short sentence, what went wrong."""


class ToolError(Exception):
    """A failure the model can read and act on, such as "Division by zero."."""
