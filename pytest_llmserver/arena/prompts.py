"""The built-in contestants of the prompt arena and the questions every arena asks."""

from __future__ import annotations

#: Built-in system prompts: ``{key: {"name": display name, "prompt": system prompt text}}``.
SYSTEM_PROMPTS: dict[str, dict[str, str]] = {
    "plain": {
        "name": "Plain helpful assistant",
        "prompt": (
            "You are a helpful assistant. Answer the user's question clearly and correctly. "
            "When you are unsure about something, say so instead of inventing details."
        ),
    },
    "chain_of_thought": {
        "name": "Step by step",
        "prompt": (
            "Work through the problem one step at a time before you commit to an answer. "
            "Write each intermediate step briefly, then give the final answer on its own line."
        ),
    },
    "atomic": {
        "name": "Atomic sub-questions",
        "prompt": (
            "Before answering, split the question into the smallest independent sub-questions "
            "you can find. Settle each of them separately, then combine the pieces into one "
            "final answer."
        ),
    },
    "reflective": {
        "name": "Deep reflection",
        "prompt": (
            "Think carefully about what the question is really asking and which assumptions "
            "are hidden in it. Draft an answer, examine the draft critically for gaps and "
            "mistakes, and reply with the improved version."
        ),
    },
    "failure_first": {
        "name": "Failure first",
        "prompt": (
            "Begin by asking how an answer to this question could go wrong: misread "
            "requirements, edge cases, common traps. Keep those risks in view and then give "
            "an answer that avoids them."
        ),
    },
    "methodical": {
        "name": "Methodical checklist",
        "prompt": (
            "Follow a fixed checklist: restate the goal, list the known facts and constraints, "
            "pick a method, apply it, and check the result. Keep every step short and put the "
            "final answer last."
        ),
    },
    "concise": {
        "name": "Concise",
        "prompt": (
            "Answer in as few words as the task allows. Lead with the answer and leave out "
            "preamble, repetition and filler. Add a short explanation only when correctness "
            "depends on it."
        ),
    },
}

#: Built-in questions, two per category; ``id`` is stable and used in reports.
TEST_QUESTIONS: list[dict[str, str]] = [
    {
        "id": "reason-01",
        "category": "reasoning",
        "question": (
            "Anna is taller than Ben, and Ben is taller than Carla. Dev is shorter than Carla. "
            "Who is the second shortest of the four?"
        ),
    },
    {
        "id": "reason-02",
        "category": "reasoning",
        "question": (
            "Every pet Maya owns is either a cat or a dog. Exactly two of her pets are not "
            "cats and exactly three are not dogs. How many pets does she have?"
        ),
    },
    {
        "id": "math-01",
        "category": "math",
        "question": "What is 15% of 240, and what is 240 increased by 15%?",
    },
    {
        "id": "math-02",
        "category": "math",
        "question": (
            "A train covers 180 km in 2 hours and 15 minutes. What is its average speed in km/h?"
        ),
    },
    {
        "id": "code-01",
        "category": "coding",
        "question": (
            "Write a short Python function that tells whether a string is a palindrome, "
            "ignoring letter case and spaces."
        ),
    },
    {
        "id": "code-02",
        "category": "coding",
        "question": (
            "What does the Python expression sorted({3: 'a', 1: 'b', 2: 'c'}) return, and why?"
        ),
    },
    {
        "id": "write-01",
        "category": "writing",
        "question": "Write a two-sentence apology to a customer whose order arrived a week late.",
    },
    {
        "id": "write-02",
        "category": "writing",
        "question": (
            "Make this sentence shorter and clearer: 'Due to the fact that the meeting was "
            "postponed, it is the case that we will need to reschedule the review at a later "
            "point in time.'"
        ),
    },
    {
        "id": "know-01",
        "category": "knowledge",
        "question": "Why does ice float on liquid water?",
    },
    {
        "id": "know-02",
        "category": "knowledge",
        "question": "What is the difference between weather and climate?",
    },
    {
        "id": "plan-01",
        "category": "planning",
        "question": (
            "Plan a 30-minute daily routine for someone learning basic Spanish vocabulary "
            "over four weeks."
        ),
    },
    {
        "id": "plan-02",
        "category": "planning",
        "question": (
            "List the steps to move a small web application's database to a new server with "
            "as little downtime as possible."
        ),
    },
]
