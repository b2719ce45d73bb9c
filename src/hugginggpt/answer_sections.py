"""The sections an answer may end with, after what was done: written by the responder (``respond``), and cut off by
chat memory (``history``), which reads an earlier answer that holds no structured outputs only up to the first of them:
they are notes about the run, not text to work on. Also the openings of the answers that hold no text output, which
chat memory skips the same way."""

FILES_NOTE = "\n\nFiles produced:"
NOT_DONE_NOTE = "\n\nNot done:"
NOTE_HEAD = "\n\nNote:"
LEFT_OUT_NOTE = "\n\nLeft out of the plan:"
NOT_MADE_NOTE = "\n\nNot made:"
WITHHELD_NOTE = "\n\nNot shown:"  # the LLM's answer, withheld by the guard or grounding, and why
SECTIONS = (FILES_NOTE, NOT_DONE_NOTE, NOTE_HEAD, LEFT_OUT_NOTE, NOT_MADE_NOTE, WITHHELD_NOTE)

# The openings of the answers that hold no text output, written by ``agent`` (a run error), ``respond`` (nothing
# made; a chat answer the guard withheld) and ``fallback`` (a request that names only videos). Chat memory skips an
# answer read from its text that starts with one of them.
ERROR_OPENING = "I could not do that:"
NOTHING_MADE_OPENING = "Nothing was made for this request"
NO_GOOD_ANSWER_OPENING = "I have no good answer to that"
VIDEO_ONLY_OPENING = "No task was recognised in your request, and no task here takes a video"
NO_TEXT_OPENINGS = (ERROR_OPENING, NOTHING_MADE_OPENING, NO_GOOD_ANSWER_OPENING, VIDEO_ONLY_OPENING)
