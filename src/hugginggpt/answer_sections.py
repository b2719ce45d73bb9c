"""The sections an answer may end with, after what was done: written by the responder (``respond``), and cut off by
chat memory (``history``), which reads an earlier answer that holds no structured outputs only up to the first of them:
they are notes about the run, not text to work on."""

FILES_NOTE = "\n\nFiles produced:"
NOT_DONE_NOTE = "\n\nNot done:"
NOTE_HEAD = "\n\nNote:"
LEFT_OUT_NOTE = "\n\nLeft out of the plan:"
NOT_MADE_NOTE = "\n\nNot made:"
SECTIONS = (FILES_NOTE, NOT_DONE_NOTE, NOTE_HEAD, LEFT_OUT_NOTE, NOT_MADE_NOTE)
