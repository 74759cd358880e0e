from .cli import main

if __name__ == "__main__":  # python -m dlcv (importing this module runs nothing)
    raise SystemExit(main())
