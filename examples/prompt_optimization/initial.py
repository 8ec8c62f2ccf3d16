"""A prompt, as a program: build_prompt(review) -> the text sent to the classifier model."""


# EVOLVE-BLOCK-START
def build_prompt(review):
    return "Review: " + review + "\nIs this review positive or negative?"
# EVOLVE-BLOCK-END


def build_all(reviews):
    return [build_prompt(r) for r in reviews]
