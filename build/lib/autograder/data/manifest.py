"""Every file of the course data, with its sha256 and public download address: what the grader
holds (students get these less the held-out answers, `view.student_data`).

``url`` is None where the course copy is not byte-identical to any public download (a repack, a
subset or a rebuild; see the provenance in the data folder's README.md): such files come only
from a course mirror (`autograder data fetch --mirror DIR_OR_URL`).
"""

from coursekit.data.manifest import DataFile

_MNIST = "https://storage.googleapis.com/cvdf-datasets/mnist/"
_KERAS = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
_GITHUB = "https://raw.githubusercontent.com/"

MANIFEST = (
    DataFile("mnist/train-images-idx3-ubyte.gz", "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609", 9912422, _MNIST + "train-images-idx3-ubyte.gz"),
    DataFile("mnist/train-labels-idx1-ubyte.gz", "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c", 28881, _MNIST + "train-labels-idx1-ubyte.gz"),
    DataFile("mnist/t10k-images-idx3-ubyte.gz", "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6", 1648877, _MNIST + "t10k-images-idx3-ubyte.gz"),
    DataFile("mnist/t10k-labels-idx1-ubyte.gz", "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6", 4542, _MNIST + "t10k-labels-idx1-ubyte.gz"),
    DataFile("fashion-mnist/train-images-idx3-ubyte.gz", "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84", 26421880, _KERAS + "train-images-idx3-ubyte.gz"),
    DataFile("fashion-mnist/train-labels-idx1-ubyte.gz", "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845", 29515, _KERAS + "train-labels-idx1-ubyte.gz"),
    DataFile("fashion-mnist/t10k-images-idx3-ubyte.gz", "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073", 4422102, _KERAS + "t10k-images-idx3-ubyte.gz"),
    DataFile("fashion-mnist/t10k-labels-idx1-ubyte.gz", "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5", 5148, _KERAS + "t10k-labels-idx1-ubyte.gz"),
    DataFile("imdb/imdb_word_index.json", "027313fe9a320280f3bf0fac5baf58c4a683cf39a7ed9c3d3d3912bde4284cf6", 1641221, _KERAS + "imdb_word_index.json"),
    DataFile("imdb/aclImdb_v1.tar.gz", "48d37203a8f284fd57e35035a0de58f148866fecc5576e76f442f2a5ef389219", 28630972, None),
    DataFile("tinyshakespeare/input.txt", "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed", 1115394, _GITHUB + "karpathy/char-rnn/6f9487a6fe5b420b7ca9afb0d7c078e37c1d1b4e/data/tinyshakespeare/input.txt"),
    DataFile("enron-spam/spam.txt.gz", "b4905046cacd57fd8cfd5c1d46ab262a0a4ca5c847fe8c079eaa5a5d7629506e", 7170974, None),
    DataFile("enron-spam/ham.txt.gz", "0b070f28d09cd2633b4f711e66c6326be65cd35c484c32cadf48a7b8c2ef45f4", 7752623, None),
    DataFile("enron-spam/enron_index.tsv.gz", "67367f02deb410e8f1eb19fb320123516f3b9f155efbe25ab3a58bc0e6fda6c9", 185927, None),
    DataFile("housing/housing.csv", "8a3727f4cf54ac1a327f69b1d5b4db54c5834ea81c6e4efc0d163300022a685e", 1423529, _GITHUB + "ageron/handson-ml2/1e2115277b50f6c584cd668fa30e3af309a5b136/datasets/housing/housing.csv"),
    DataFile("housing/ames/AmesHousing.txt", "6cfe6cb525ba437de428653a1040e2aed7d696640bf75203786a6d7a0e67cfcc", 960807, _GITHUB + "rasbt/machine-learning-book/35ab3774e8e249c43a98209d8efd94c060102003/ch09/AmesHousing.txt"),
    DataFile("housing/ames/DataDocumentation.txt", "93d741d17422cca39584c6f03fd3f45194501101790bd8241e33d21c991e3eed", 19653, _GITHUB + "rasbt/machine-learning-book/35ab3774e8e249c43a98209d8efd94c060102003/ch09/DataDocumentation.txt"),
    DataFile("housing/kaggle-house-prices/train.csv", "1e18addf81e5e4d347cc17ee6075bbe4a42b7fa26b9e5b063e8f692a5f929d41", 460676, _GITHUB + "Yuugure-Yuu/Machile-Learning-in-sdu/c561b185bbbdd614ce4786b701f33e48a05aa42f/house-prices-advanced-regression-techniques/train_initial.csv"),
    DataFile("housing/kaggle-house-prices/data_description.txt", "356a4670aa688afa8ba44b1365b633fbbac2dae535fe4638532630607d64070d", 13370, None),
    DataFile("keras-models/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5", "71e4c4ec4aa24c9c951b9265d6de42e1336dcf614c2214fa6a989208615e232c", 9421704, None),
    DataFile("flowers/flower_photos_subset.tgz", "9e7c84c8c2f1998980b9b8310bd1e5a041a4281c4b93e481805aa36318dd60b5", 34268859, None),
)
