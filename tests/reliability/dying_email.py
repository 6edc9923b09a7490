"""An email backend whose process dies (SIGKILL) right after its first message is written.

It stands for a run killed after the send and before `notified_at` was set:
the message is out, the database does not know it.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Sequence

from django.core.mail import EmailMessage
from django.core.mail.backends.filebased import EmailBackend as FileBackend


class EmailBackend(FileBackend):
    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        sent = super().send_messages(email_messages)
        self.close()
        os.kill(os.getpid(), signal.SIGKILL)
        return sent
