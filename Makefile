# torchclas: `make demo` and `make test` each create .venv and install first; both are idempotent.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PADDLE_VENV := .venv-paddle
TC := $(VENV)/bin/torchclas
STAMP := $(VENV)/.installed
FM_SOURCE := /usr/share/datasets/fashion-mnist
FM_DATA := data/fashion_mnist
QUICKSTART := configs/quickstart/fashion_mnist.yaml
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: venv demo test faults test-paddle data clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

$(FM_SOURCE)/train-images-idx3-ubyte.gz:
	@if command -v apt-get >/dev/null; then \
		$(SUDO) apt-get install -y dataset-fashion-mnist || \
		($(SUDO) apt-get update && $(SUDO) apt-get install -y dataset-fashion-mnist); \
	else echo "Fashion-MNIST: install the Debian package dataset-fashion-mnist, or put the four idx .gz files in a folder and run: $(TC) data fashion-mnist --source DIR --out $(FM_DATA)"; exit 1; fi

data: venv $(FM_SOURCE)/train-images-idx3-ubyte.gz
	$(TC) data fashion-mnist --out $(FM_DATA)

demo: data
	$(TC) train -c $(QUICKSTART)
	$(TC) eval -c $(QUICKSTART) -o Global.pretrained_model=output/ResNet18/best_model
	$(TC) export -c $(QUICKSTART) -o Global.pretrained_model=output/ResNet18/best_model --out output/fashion_mnist.onnx
	$(TC) infer output/fashion_mnist.onnx $(FM_DATA)/test/00000.png $(FM_DATA)/test/00001.png \
		$(FM_DATA)/test/00002.png $(FM_DATA)/test/00003.png $(FM_DATA)/test/00004.png --topk 5

test: venv
	$(PY) -m pytest -n 2 -q

# The fault-injection suite in full (make test runs it with 4 kills and one seed).
faults: venv
	TORCHCLAS_FAULT_KILLS=8 TORCHCLAS_FAULT_SEEDS=4 $(PY) -m pytest -n 2 -q -m faults

clean:
	rm -rf output build *.egg-info .pytest_cache

# PaddleClas side by side (not part of `make test`): its own venv with paddlepaddle + paddleclas.
# A subset: make test-paddle PYTEST_ARGS="-k ResNet50_vd"
$(PADDLE_VENV)/.installed:
	$(PYTHON) -m venv $(PADDLE_VENV)
	$(PADDLE_VENV)/bin/python -m pip install -q paddlepaddle==3.3.1 paddleclas==2.6.0
	touch $@

test-paddle: venv $(PADDLE_VENV)/.installed
	TORCHCLAS_PADDLE_PYTHON=$(PADDLE_VENV)/bin/python $(PY) -m pytest -q -m paddle $(PYTEST_ARGS)
