#!/usr/bin/python3
"""Writes the tiny ONNX fixtures of test/unit/onnxReader.test.ts under test/fixtures/onnx/ and the values the test
expects in test/fixtures/onnx/expected.json.  Needs Debian's python3-onnx (1.12) and numpy:

    apt-get install -y python3-onnx && /usr/bin/python3 scripts/onnx/makeFixtures.py

The outputs are committed, so the tests need no Python.  Seeded: running it again writes the same files.
"""
import json
import os
import shutil

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..')
OUT = os.path.join(ROOT, 'test', 'fixtures', 'onnx')
rng = np.random.default_rng(0)


def conv_net(opset=13, name='tiny-cnn'):
    """conv(3→4, k3, pad 1, stride 2, group 1) → relu → conv(4→4 depthwise, group 4) → GAP → flatten → gemm(4→3)."""
    w1 = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    b1 = rng.standard_normal((4,)).astype(np.float32)
    w2 = rng.standard_normal((4, 1, 3, 3)).astype(np.float32)
    wfc = rng.standard_normal((3, 4)).astype(np.float32)
    bfc = rng.standard_normal((3,)).astype(np.float32)
    shape = np.array([-1, 4], dtype=np.int64)
    inits = [numpy_helper.from_array(a, n) for a, n in
             [(w1, 'conv1.weight'), (w2, 'conv2.weight'), (wfc, 'fc.weight'), (bfc, 'fc.bias'), (shape, 'flat_shape')]]
    # conv1.bias in float_data (packed floats) rather than raw_data, as make_tensor writes it without raw=True.
    inits.insert(1, helper.make_tensor('conv1.bias', TensorProto.FLOAT, [4], b1.tolist()))
    nodes = [
        helper.make_node('Conv', ['input', 'conv1.weight', 'conv1.bias'], ['c1'], name='conv1',
                         kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2], group=1, dilations=[1, 1]),
        helper.make_node('Relu', ['c1'], ['r1'], name='relu1'),
        helper.make_node('Conv', ['r1', 'conv2.weight'], ['c2'], name='conv2',
                         kernel_shape=[3, 3], pads=[0, 1, 2, 1], strides=[1, 1], group=4, auto_pad='NOTSET'),
        helper.make_node('GlobalAveragePool', ['c2'], ['gap'], name='gap'),
        helper.make_node('Reshape', ['gap', 'flat_shape'], ['flat'], name='flatten'),
        helper.make_node('Gemm', ['flat', 'fc.weight', 'fc.bias'], ['logits'], name='fc',
                         alpha=1.0, beta=1.0, transB=1),
    ]
    graph = helper.make_graph(
        nodes, 'tiny',
        [helper.make_tensor_value_info('input', TensorProto.FLOAT, ['batch', 3, 'height', 'width'])],
        [helper.make_tensor_value_info('logits', TensorProto.FLOAT, ['batch', 3])],
        inits)
    model = helper.make_model(graph, producer_name='convscope-fixtures', opset_imports=[helper.make_opsetid('', opset)])
    expected = {'conv1.weight': w1, 'conv1.bias': b1, 'conv2.weight': w2, 'fc.weight': wfc, 'fc.bias': bfc,
                'flat_shape': shape}
    return model, expected


def arrays_json(d):
    return {k: {'dims': list(v.shape), 'values': v.ravel().tolist()} for k, v in d.items()}


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    expected = {}

    model, exp = conv_net()
    onnx.checker.check_model(model)
    onnx.save_model(model, os.path.join(OUT, 'tiny_cnn.onnx'))
    expected['tiny_cnn'] = arrays_json(exp)

    # The same net with every initializer in one external data file beside it (data_location = EXTERNAL).
    model, exp = conv_net()
    ext_dir = os.path.join(OUT, 'external')
    os.makedirs(ext_dir)
    onnx.save_model(model, os.path.join(ext_dir, 'model.onnx'), save_as_external_data=True,
                    all_tensors_to_one_file=True, location='weights.bin', size_threshold=0)
    expected['external'] = arrays_json(exp)

    # External data whose file is missing: the external model without its weights.bin.
    missing_dir = os.path.join(OUT, 'external_missing')
    os.makedirs(missing_dir)
    shutil.copy(os.path.join(ext_dir, 'model.onnx'), os.path.join(missing_dir, 'model.onnx'))

    # A truncated file: the first 60 % of tiny_cnn.onnx.
    data = open(os.path.join(OUT, 'tiny_cnn.onnx'), 'rb').read()
    open(os.path.join(OUT, 'truncated.onnx'), 'wb').write(data[:int(len(data) * 0.6)])

    # Not an ONNX file: text with an .onnx name.
    open(os.path.join(OUT, 'not_onnx.onnx'), 'w').write('This is a text file, not an ONNX model.\n')

    # Opsets out of the supported range 9..21.
    for opset in (8, 22):
        model, _ = conv_net(opset=opset)
        onnx.save_model(model, os.path.join(OUT, 'opset%d.onnx' % opset))

    with open(os.path.join(OUT, 'expected.json'), 'w') as f:
        json.dump(expected, f, indent=1)
        f.write('\n')


if __name__ == '__main__':
    main()
