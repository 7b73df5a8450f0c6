"""``python -m pianodiff.app``: start the web page (see ``pianodiff-app --help``)."""

from pianodiff.app.cli import main

if __name__ == "__main__":
    main()
