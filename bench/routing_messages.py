"""100 messages, each labelled with the route a person would pick, for bench/routing.py.
(text, images, documents, intended route) over the README's example routes."""

from __future__ import annotations

RULES = """\
backends:
  - {name: openai, base_url: "https://api.openai.com/v1"}
  - {name: ollama, base_url: "http://localhost:11434/v1"}
routes:
  - {name: vision, when: {images: true}, models: [openai/gpt-4.1-mini]}
  - {name: documents, when: {documents: true}, models: [openai/gpt-4.1]}
  - {name: code, when: {code: true}, models: [ollama/qwen2.5-coder, openai/gpt-4.1]}
  - name: reasoning
    when: {keywords: [step by step, prove, derive, think carefully, work out, reason through]}
    models: [openai/o4-mini]
  - {name: long, when: {min_chars: 1200}, models: [openai/o4-mini]}
  - {name: fast, models: [ollama/llama3.2]}
"""

VISION = [(t, 1, False, "vision") for t in (
    "What is in this picture?", "Read the text on this receipt.", "Is this mole worth a doctor's visit?",
    "Translate the sign in the photo.", "Which bird is this?", "Describe the chart.",
    "What breed is my dog?", "Transcribe the handwriting.", "Where was this taken?",
    "Count the people in the image.", "What does this error screenshot say?",
    "Is the wiring in this photo safe?", "Rate my outfit.", "What plant is this?",
    "Summarise this slide.", "Find the typo in this poster.", "Which one is ripe?",
    "What's wrong with my bike chain?", "Explain this meme.", "Step by step, what is this diagram showing?")]

DOCUMENTS = [(t, 0, True, "documents") for t in (
    "What does my contract say about notice periods?", "Summarise the report I uploaded.",
    "Which page mentions the budget?", "List the action items from the minutes.",
    "What is the warranty period?", "Quote the refund policy.", "Who signed the agreement?",
    "When is the deadline in the brief?", "Compare chapter 2 and chapter 5.",
    "What are the side effects listed in the leaflet?", "Find the test results in my file.",
    "What did the auditor recommend?", "What is the total on the invoice?",
    "Does the lease allow pets?", "Explain section 4.2 of the paper.",
    "What are the key dates in the plan?", "Who is the contact person?",
    "What does the manual say about resetting?", "Give me the abstract in plain words.",
    "Step by step, how does the document say to install it?")]

CODE = [(t, 0, False, "code") for t in (
    "Why does this fail?\n```python\nprint(1\n```",
    "```js\nconst x = [1,2,3].map(n => n * 2)\n```\nwhat is x?",
    "def add(a, b):\n    return a - b\n\nfix it",
    "SELECT name FROM users WHERE age > 30;\nSELECT count(*) FROM users;\nwhich is faster?",
    "#include <stdio.h>\nint main() { printf(\"hi\"); }\nwhy no newline?",
    "for (int i = 0; i < n; i++) {\n  sum += a[i];\n}\nvectorise this",
    "Review:\n```go\nfunc main() { fmt.Println(\"x\") }\n```",
    "```bash\nrm -rf $DIR/\n```\nis this safe when DIR is empty?",
    "class Stack:\n    def push(self, x):\n        self.items.append(x)\nadd pop",
    "import pandas as pd\ndf = pd.read_csv('a.csv')\nhow do I drop empty rows?",
    "let total = 0;\nitems.forEach(i => { total += i.price; });\nuse reduce instead",
    "```rust\nfn main() { let v = vec![1]; }\n```\nexplain ownership here",
    "public class Main {\n  public static void main(String[] a) {\n  }\n}\nadd a greeting",
    "```yaml\nservices:\n  web:\n    image: nginx\n```\nadd a port",
    "function debounce(f) {\n  let t;\n  return () => { clearTimeout(t); t = setTimeout(f, 9); };\n}\n"
    "type this in TS",
    "```sql\nUPDATE t SET a = 1\n```\nwhy did it change every row?",
    "from typing import List\ndef first(xs: List[int]) -> int:\n    return xs[0]\nhandle empty",
    "Write a regex for emails and test it:\n```\nfoo@bar.com\n```",
    "How do I reverse a list in Python?",
    "What does git rebase do?")]

REASONING = [(t, 0, False, "reasoning") for t in (
    "Prove that the square root of 2 is irrational.", "Work out how long the loan takes to repay.",
    "Step by step, how many weekdays are in 2027?", "Derive the formula for compound interest.",
    "Think carefully: which of these three offers is better?",
    "Reason through whether the suspect could have been there.",
    "Prove there are infinitely many primes.", "Explain step by step how a bill becomes law.",
    "Derive the quadratic formula.", "Work out the probability of two sixes in four throws.",
    "Step by step: plan a week of meals under 50 euros.",
    "Think carefully about the trade-offs of renting versus buying.",
    "Prove that every tree with n nodes has n-1 edges.", "Work out my tax if I earn 40,000.",
    "Reason through the Monty Hall problem.", "Derive kinetic energy from work.",
    "Step by step, how do I solve 3x + 7 = 22?", "Is 2,027 prime? Think carefully.",
    "Solve this riddle: what has keys but no locks?",
    "If a train leaves at 3 and another at 4, when do they meet?")]

FAST = [(t, 0, False, "fast") for t in (
    "Hi!", "Thanks, that helped.", "What's the capital of Peru?", "Give me a synonym for happy.",
    "Tell me a joke.", "How do you say thank you in Japanese?", "What time zone is Lisbon in?",
    "Suggest a name for a cat.", "Is a tomato a fruit?", "What's 12 times 12?",
    "Write a haiku about rain.", "Who wrote Hamlet?", "Recommend a podcast about history.",
    "How many legs does a spider have?", "What is the boiling point of water?",
    "Shorten this: we would like to kindly ask you to reply.", "Good morning!",
    "What's a good stretch for my back?", "Spell 'necessary'.", "Bye!")]

# The same, plus example messages for code and reasoning asked in prose (none of them is
# one of the messages below): a route with examples holds when one is the closest.
EXAMPLES = RULES.replace("""  - {name: fast, models: [ollama/llama3.2]}
""", """  - name: code
    examples:
      - "How do I sort a dictionary by value in Python?"
      - "What does git stash do?"
      - "Why does my JavaScript promise never resolve?"
      - "How do I write a SQL join?"
      - "What is a null pointer exception in Java?"
    models: [ollama/qwen2.5-coder]
  - name: reasoning
    examples:
      - "A bat and a ball cost 1.10 in total; how much is the ball?"
      - "Two cars drive towards each other at 60 and 40 km/h; when do they meet?"
      - "Solve this puzzle about three boxes with wrong labels."
    models: [openai/o4-mini]
  - {name: fast, models: [ollama/llama3.2]}
""")

MESSAGES = VISION + DOCUMENTS + CODE + REASONING + FAST
