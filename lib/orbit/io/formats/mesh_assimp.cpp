// Mesh formats read through the Open Asset Import Library (Assimp): OBJ, STL,
// glTF/GLB, FBX, COLLADA, 3DS, ... every extension Assimp knows that no
// native reader here claims (registry.cpp asks the native readers first, so
// PLY and OFF keep theirs).
//
// The scene is flattened: each mesh placed by the transforms of the nodes
// above it (glTF and COLLADA place meshes by them; applied here in double
// precision), polygons triangulated, identical vertices joined (STL repeats
// each corner per facet), every mesh's vertices and triangles concatenated. Line primitives are dropped; point primitives keep their
// vertices (an OBJ with only `v` lines is a point cloud). Normals are kept
// when every mesh has them, except STL's, which belong to facets, not vertices.
#include <assimp/Importer.hpp>
#include <assimp/postprocess.h>
#include <assimp/scene.h>

#include <Eigen/LU>

#include <algorithm>
#include <cctype>
#include <set>

#include "orbit/core/error.hpp"
#include "orbit/io/formats/format.hpp"
#include "orbit/io/formats/values.hpp"

namespace orbit::io::formats {
namespace {

// Assimp's extensions, as ".obj" strings.
const std::set<std::string>& assimp_extensions() {
    static const std::set<std::string> all = [] {
        aiString list;
        Assimp::Importer().GetExtensionList(list);  // "*.3d;*.3ds;*.obj;..."
        std::set<std::string> out;
        std::string s(list.C_Str());
        for (std::size_t b = 0; b < s.size();) {
            std::size_t e = s.find(';', b);
            if (e == std::string::npos) e = s.size();
            std::string ext = s.substr(b, e - b);
            for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            if (ext.rfind("*.", 0) == 0) out.insert(ext.substr(1));
            b = e + 1;
        }
        return out;
    }();
    return all;
}

// One line: Assimp's messages sometimes carry a newline.
std::string one_line(std::string s) {
    std::replace(s.begin(), s.end(), '\n', ' ');
    while (!s.empty() && s.back() == ' ') s.pop_back();
    return s;
}

const aiScene* import(Assimp::Importer& importer, const std::string& path, bool stl) {
    unsigned flags = aiProcess_Triangulate | aiProcess_JoinIdenticalVertices | aiProcess_SortByPType;
    importer.SetPropertyInteger(AI_CONFIG_PP_SBP_REMOVE, aiPrimitiveType_LINE);
    if (stl) {
        importer.SetPropertyInteger(AI_CONFIG_PP_RVC_FLAGS, aiComponent_NORMALS);
        flags |= aiProcess_RemoveComponent;
    }
    const aiScene* scene = importer.ReadFile(path, flags);
    if (!scene) throw Error(path + ": " + one_line(importer.GetErrorString()));
    if (scene->mFlags & AI_SCENE_FLAGS_INCOMPLETE) throw Error(path + ": the file holds an incomplete scene");
    return scene;
}

// A mesh of the scene where a node puts it (in double precision).
struct Placed {
    const aiMesh* mesh;
    Eigen::Matrix4d transform;
};

Eigen::Matrix4d to_eigen(const aiMatrix4x4& m) {
    Eigen::Matrix4d t;
    for (unsigned r = 0; r < 4; ++r)
        for (unsigned c = 0; c < 4; ++c) t(r, c) = m[r][c];
    return t;
}

// Every mesh a node refers to, under the product of the transforms above it.
void place(const aiScene* scene, const aiNode* node, const Eigen::Matrix4d& parent, std::vector<Placed>& out,
           std::vector<bool>& used) {
    const Eigen::Matrix4d t = parent * to_eigen(node->mTransformation);
    for (unsigned i = 0; i < node->mNumMeshes; ++i)
        if (node->mMeshes[i] < scene->mNumMeshes) {
            out.push_back({scene->mMeshes[node->mMeshes[i]], t});
            used[node->mMeshes[i]] = true;
        }
    for (unsigned c = 0; c < node->mNumChildren; ++c) place(scene, node->mChildren[c], t, out, used);
}

// The meshes as the scene places them; meshes no node refers to (OBJ point clouds) as they are.
std::vector<Placed> placed_meshes(const aiScene* scene) {
    std::vector<Placed> out;
    std::vector<bool> used(scene->mNumMeshes, false);
    if (scene->mRootNode) place(scene, scene->mRootNode, Eigen::Matrix4d::Identity(), out, used);
    for (unsigned m = 0; m < scene->mNumMeshes; ++m)
        if (!used[m]) out.push_back({scene->mMeshes[m], Eigen::Matrix4d::Identity()});
    return out;
}

// Appends one placed mesh: positions moved, normals turned (inverse transpose), triangles re-indexed.
void append(const Placed& p, bool normals, Shape& shape, Eigen::Index& row, std::vector<std::int64_t>& tris) {
    const aiMesh* mesh = p.mesh;
    const Eigen::Matrix3d a = p.transform.topLeftCorner<3, 3>(), turn = a.inverse().transpose();
    const Eigen::Vector3d shift = p.transform.topRightCorner<3, 1>();
    const bool identity = p.transform.isIdentity(0);
    const Eigen::Index first = row;
    for (unsigned i = 0; i < mesh->mNumVertices; ++i, ++row) {
        const aiVector3D& v = mesh->mVertices[i];
        Eigen::Vector3d x(v.x, v.y, v.z);
        shape.vertices.row(row) = (identity ? x : Eigen::Vector3d(a * x + shift)).transpose();
        if (!normals) continue;
        const aiVector3D& n = mesh->mNormals[i];
        Eigen::Vector3d u(n.x, n.y, n.z);
        shape.normals.row(row) = (identity ? u : Eigen::Vector3d((turn * u).normalized())).transpose();
    }
    for (unsigned f = 0; f < mesh->mNumFaces; ++f) {
        const aiFace& face = mesh->mFaces[f];
        if (face.mNumIndices != 3) continue;  // points (SortByPType keeps them apart)
        for (unsigned k = 0; k < 3; ++k) tris.push_back(first + face.mIndices[k]);
    }
}

}  // namespace

Shape read_mesh_assimp(const std::string& path) {
    Assimp::Importer importer;
    const aiScene* scene = import(importer, path, extension(path) == ".stl");
    const std::vector<Placed> meshes = placed_meshes(scene);
    std::size_t nv = 0;
    bool normals = !meshes.empty();
    for (const Placed& p : meshes) {
        nv += p.mesh->mNumVertices;
        normals = normals && p.mesh->HasNormals();
    }
    if (nv == 0) throw Error(path + ": contains no points");
    Shape shape;
    shape.vertices.resize(static_cast<Eigen::Index>(nv), 3);
    if (normals) shape.normals.resize(static_cast<Eigen::Index>(nv), 3);
    std::vector<std::int64_t> tris;
    Eigen::Index row = 0;
    for (const Placed& p : meshes) append(p, normals, shape, row, tris);
    check_values(shape.vertices, path, "vertex");
    if (normals) check_values(shape.normals, path, "normal of vertex");
    shape.faces = to_faces(tris);
    return shape;
}

const Format& assimp_format() {
    static const Format f{.name = "mesh (Assimp)",
                          .extensions = {},
                          .handles_extension = [](const std::string& e) { return assimp_extensions().count(e) > 0; },
                          .read = [](const Source& s) { return read_mesh_assimp(s.path); }};
    return f;
}

}  // namespace orbit::io::formats
