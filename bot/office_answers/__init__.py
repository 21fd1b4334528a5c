"""Answers from the offices to parents' office messages: recorded from `csbot office-messages
reply` (record.py) or from replies to the office mail read over IMAP (reply_mail.py parses a
mail, imap.py talks to the mailbox, reader.py runs inside `csbot serve` and `csbot worker`)."""
