print("topics")
