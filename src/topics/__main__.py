from topics.cli import app

app(prog_name="topics")
