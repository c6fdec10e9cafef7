"""Sample module for the editor tests: the tiny test model knows these functions."""


def add(a, b):
    return a + b


def read_lines(path):
    with open(path) as f:
        return f.read().splitlines()


class Stack:
    def __init__(self):
        self.items = []

    def push(self, x):
        self.items.append(x)
